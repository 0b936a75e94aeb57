//! Feeds arbitrary UTF-8 text to the parser: it must never panic, and every diagnostic must
//! render.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        let (app, diags) = eventflux_sql::parse(src);
        for d in &diags {
            assert!(d.span.start <= d.span.end && d.span.end as usize <= src.len());
            let _ = d.render("fuzz.sql", src);
        }
        for s in &app.statements {
            let span = s.span();
            assert!(span.start <= span.end && span.end as usize <= src.len());
        }
    }
});
