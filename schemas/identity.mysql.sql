-- Identity/autoincrement columns, MariaDB/MySQL: AUTO_INCREMENT.
CREATE TABLE with_identity (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    label VARCHAR(20)
);
CREATE TABLE with_default_identity (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    label VARCHAR(20)
);
CREATE TABLE with_serial (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    label VARCHAR(20) DEFAULT 'none'
);
CREATE TABLE without_identity (
    id INTEGER NOT NULL PRIMARY KEY,
    label VARCHAR(20)
);
