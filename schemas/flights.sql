-- Two FKs to one parent (flights.origin/dest -> airports) and overlapping FKs:
-- flights.origin -> airports and flights.(origin, time_hour) -> weather, whose
-- primary key is (origin, time_hour) and which itself points at airports.
CREATE TABLE airports (
    faa CHAR(3) NOT NULL PRIMARY KEY,
    name VARCHAR(80) NOT NULL
);
CREATE TABLE weather (
    origin CHAR(3) NOT NULL,
    time_hour TIMESTAMP NOT NULL,
    temp REAL,
    PRIMARY KEY (origin, time_hour),
    FOREIGN KEY (origin) REFERENCES airports (faa)
);
CREATE TABLE flights (
    flight_id INTEGER NOT NULL PRIMARY KEY,
    origin CHAR(3) NOT NULL,
    dest CHAR(3) NOT NULL,
    time_hour TIMESTAMP NOT NULL,
    dep_delay INTEGER,
    FOREIGN KEY (origin) REFERENCES airports (faa),
    FOREIGN KEY (dest) REFERENCES airports (faa),
    FOREIGN KEY (origin, time_hour) REFERENCES weather (origin, time_hour)
);
