CREATE STREAM Orders (id STRING, amount DOUBLE)
WITH (type = 'source', extension = 'natz', format = 'json');
