-- One column per portable type, PostgreSQL variant.
CREATE TABLE all_types (
    id INTEGER NOT NULL PRIMARY KEY,
    c_bigint BIGINT,
    c_smallint SMALLINT,
    c_numeric NUMERIC(10, 2),
    c_float DOUBLE PRECISION,
    c_real REAL,
    c_varchar VARCHAR(40),
    c_char CHAR(5),
    c_text TEXT,
    c_date DATE,
    c_datetime TIMESTAMP,
    c_timestamp TIMESTAMP,
    c_time TIME,
    c_boolean BOOLEAN,
    c_blob BYTEA,
    c_json JSONB,
    c_uuid UUID,
    c_timestamptz TIMESTAMP WITH TIME ZONE,
    c_interval INTERVAL,
    c_inet INET
);
