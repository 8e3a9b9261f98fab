-- ENUM column, SQLite variant: SQLite has no ENUM; the idiom is TEXT plus a CHECK,
-- which reflects as TEXT with a CHECK constraint (no enum_values).
CREATE TABLE tickets (
    ticket_id INTEGER NOT NULL PRIMARY KEY,
    status VARCHAR(7) NOT NULL CHECK (status IN ('open', 'closed', 'on hold')),
    priority VARCHAR(4) CHECK (priority IN ('low', 'high'))
);
