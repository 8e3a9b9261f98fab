-- ENUM column, PostgreSQL variant: named enum types.
CREATE TYPE ticket_status AS ENUM ('open', 'closed', 'on hold');
CREATE TYPE ticket_priority AS ENUM ('low', 'high');
CREATE TABLE tickets (
    ticket_id INTEGER NOT NULL PRIMARY KEY,
    status ticket_status NOT NULL,
    priority ticket_priority
);
