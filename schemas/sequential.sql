-- Sequential child table: stop_times(trip_id, stop_sequence) under trips.
CREATE TABLE trips (
    trip_id VARCHAR(40) NOT NULL PRIMARY KEY,
    headsign VARCHAR(40)
);
CREATE TABLE stop_times (
    trip_id VARCHAR(40) NOT NULL,
    stop_sequence INTEGER NOT NULL,
    arrival_time VARCHAR(8),
    PRIMARY KEY (trip_id, stop_sequence),
    FOREIGN KEY (trip_id) REFERENCES trips (trip_id)
);
INSERT INTO trips (trip_id, headsign) VALUES ('T1', 'City');
INSERT INTO stop_times (trip_id, stop_sequence, arrival_time) VALUES ('T1', 1, '23:50:00');
INSERT INTO stop_times (trip_id, stop_sequence, arrival_time) VALUES ('T1', 2, '24:05:00');
INSERT INTO stop_times (trip_id, stop_sequence, arrival_time) VALUES ('T1', 3, '25:10:00');
