-- Identity/autoincrement columns, SQLite: INTEGER PRIMARY KEY (a rowid alias) with and
-- without AUTOINCREMENT; an INT PRIMARY KEY is *not* a rowid alias.
CREATE TABLE with_identity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label VARCHAR(20)
);
CREATE TABLE with_default_identity (
    id INTEGER PRIMARY KEY,
    label VARCHAR(20)
);
CREATE TABLE with_serial (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    label VARCHAR(20) DEFAULT 'none'
);
CREATE TABLE without_identity (
    id INT NOT NULL PRIMARY KEY,
    label VARCHAR(20)
);
