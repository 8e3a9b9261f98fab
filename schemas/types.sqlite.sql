-- One column per portable type, SQLite variant (declared type names as SQLite keeps them).
CREATE TABLE all_types (
    id INTEGER NOT NULL PRIMARY KEY,
    c_bigint BIGINT,
    c_smallint SMALLINT,
    c_numeric NUMERIC(10, 2),
    c_float DOUBLE,
    c_real REAL,
    c_varchar VARCHAR(40),
    c_char CHAR(5),
    c_text TEXT,
    c_date DATE,
    c_datetime DATETIME,
    c_timestamp TIMESTAMP,
    c_time TIME,
    c_boolean BOOLEAN,
    c_blob BLOB,
    c_json JSON,
    c_untyped
);
