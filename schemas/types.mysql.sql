-- One column per portable type, MariaDB/MySQL variant.
CREATE TABLE all_types (
    id INTEGER NOT NULL PRIMARY KEY,
    c_bigint BIGINT,
    c_smallint SMALLINT,
    c_numeric NUMERIC(10, 2),
    c_float DOUBLE,
    c_real FLOAT,
    c_varchar VARCHAR(40),
    c_char CHAR(5),
    c_text TEXT,
    c_date DATE,
    c_datetime DATETIME(6),
    c_timestamp TIMESTAMP NULL,
    c_time TIME,
    c_boolean BOOLEAN,
    c_blob BLOB,
    c_json JSON,
    c_tinyint TINYINT,
    c_year YEAR,
    c_ubig BIGINT UNSIGNED,
    c_uint INT UNSIGNED
);
