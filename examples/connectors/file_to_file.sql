-- file source (CSV with a header) to file sink (JSON lines); ends when the input file ends.
-- Run from this directory: eventflux run file_to_file.sql --stats
CREATE STREAM Readings (sensor STRING, celsius DOUBLE)
WITH (type = 'source', extension = 'file', format = 'csv', "csv.header" = 'true',
      "file.path" = 'readings.csv');
CREATE STREAM Hot (sensor STRING, celsius DOUBLE)
WITH (type = 'sink', extension = 'file', "file.path" = 'hot.ndjson', "file.append" = 'false');
INSERT INTO Hot SELECT sensor, celsius FROM Readings WHERE celsius > 30;
