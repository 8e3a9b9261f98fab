-- ENUM column (MariaDB/MySQL native ENUM). See enum.postgresql.sql and enum.sqlite.sql.
CREATE TABLE tickets (
    ticket_id INTEGER NOT NULL PRIMARY KEY,
    status ENUM('open', 'closed', 'on hold') NOT NULL,
    priority ENUM('low', 'high')
);
