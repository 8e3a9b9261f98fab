-- Chain of depth 4: regions <- countries <- cities <- addresses (nullable last link).
CREATE TABLE regions (
    region_id INTEGER NOT NULL PRIMARY KEY,
    name VARCHAR(40) NOT NULL
);
CREATE TABLE countries (
    country_id INTEGER NOT NULL PRIMARY KEY,
    region_id INTEGER NOT NULL,
    name VARCHAR(40) NOT NULL,
    FOREIGN KEY (region_id) REFERENCES regions (region_id)
);
CREATE TABLE cities (
    city_id INTEGER NOT NULL PRIMARY KEY,
    country_id INTEGER NOT NULL,
    name VARCHAR(40) NOT NULL,
    FOREIGN KEY (country_id) REFERENCES countries (country_id)
);
CREATE TABLE addresses (
    address_id INTEGER NOT NULL PRIMARY KEY,
    city_id INTEGER,
    street VARCHAR(80),
    FOREIGN KEY (city_id) REFERENCES cities (city_id)
);
