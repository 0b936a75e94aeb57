CREATE TABLE A (id INT, PRIMARY KEY (id)) WITH (extension = 'mysql', "mysql.url" = 'x');
CREATE TABLE B (id INT, PRIMARY KEY (id)) WITH (extension = 'redis');
CREATE TABLE C (id INT) WITH (extension = 'memroy');
CREATE TABLE D (id INT) WITH (extension = 'cache');
CREATE TABLE E (id INT) WITH (extension = 'memory', max_size = '10');
CREATE TABLE F (id INT) WITH (extension = 'cache', max_size = '0');
CREATE TABLE G (id INT) WITH (extensoin = 'memory');
CREATE TABLE H (id INT, id STRING, PRIMARY KEY (id, id));
