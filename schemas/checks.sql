-- CHECK constraints (column-level, table-level, named) and unique constraints, one of
-- them composite, plus a unique index.
CREATE TABLE accounts (
    account_id INTEGER NOT NULL PRIMARY KEY,
    email VARCHAR(80) NOT NULL UNIQUE,
    balance NUMERIC(12, 2) NOT NULL CHECK (balance >= 0),
    kind VARCHAR(10) NOT NULL,
    opened DATE NOT NULL,
    closed DATE,
    branch INTEGER NOT NULL,
    number INTEGER NOT NULL,
    CONSTRAINT ck_accounts_dates CHECK (closed IS NULL OR closed >= opened),
    CONSTRAINT uq_accounts_branch_number UNIQUE (branch, number)
);
CREATE UNIQUE INDEX ix_accounts_kind_opened ON accounts (kind, opened);
