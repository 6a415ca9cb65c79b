-- The part of a Znuny 6.5 (OTRS 6 family) database that app_otrsticket reads:
-- customer companies and customer users, where agents type phone numbers as
-- free text. Column definitions as in Znuny's scripts/database/schema.mysql.sql;
-- Znuny's schema-post foreign keys (to valid, users) are left out.
-- Loaded by scripts/mariadb.sh into database `otrs` (utf8mb4).
SET NAMES utf8mb4;

DROP TABLE IF EXISTS customer_user;
DROP TABLE IF EXISTS customer_company;
DROP TABLE IF EXISTS valid;

-- valid_id: 1 = valid, 2 = invalid, 3 = invalid-temporarily (Znuny's
-- initial_insert). Only valid customers may be matched.
CREATE TABLE valid (
    id SMALLINT NOT NULL AUTO_INCREMENT,
    name VARCHAR (200) NOT NULL,
    create_time DATETIME NOT NULL,
    create_by INTEGER NOT NULL,
    change_time DATETIME NOT NULL,
    change_by INTEGER NOT NULL,
    PRIMARY KEY(id),
    UNIQUE INDEX valid_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT INTO valid (id, name, create_by, create_time, change_by, change_time) VALUES
    (1, 'valid', 1, NOW(), 1, NOW()),
    (2, 'invalid', 1, NOW(), 1, NOW()),
    (3, 'invalid-temporarily', 1, NOW(), 1, NOW());

CREATE TABLE customer_company (
    customer_id VARCHAR (150) NOT NULL,
    name VARCHAR (200) NOT NULL,
    street VARCHAR (200) NULL,
    zip VARCHAR (200) NULL,
    city VARCHAR (200) NULL,
    country VARCHAR (200) NULL,
    url VARCHAR (200) NULL,
    comments VARCHAR (250) NULL,
    valid_id SMALLINT NOT NULL,
    create_time DATETIME NOT NULL,
    create_by INTEGER NOT NULL,
    change_time DATETIME NOT NULL,
    change_by INTEGER NOT NULL,
    PRIMARY KEY(customer_id),
    UNIQUE INDEX customer_company_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE customer_user (
    id INTEGER NOT NULL AUTO_INCREMENT,
    login VARCHAR (200) NOT NULL,
    email VARCHAR (150) NOT NULL,
    customer_id VARCHAR (150) NOT NULL,
    pw VARCHAR (128) NULL,
    title VARCHAR (50) NULL,
    first_name VARCHAR (100) NOT NULL,
    last_name VARCHAR (100) NOT NULL,
    phone VARCHAR (150) NULL,
    fax VARCHAR (150) NULL,
    mobile VARCHAR (150) NULL,
    street VARCHAR (150) NULL,
    zip VARCHAR (200) NULL,
    city VARCHAR (200) NULL,
    country VARCHAR (200) NULL,
    comments VARCHAR (250) NULL,
    valid_id SMALLINT NOT NULL,
    create_time DATETIME NOT NULL,
    create_by INTEGER NOT NULL,
    change_time DATETIME NOT NULL,
    change_by INTEGER NOT NULL,
    PRIMARY KEY(id),
    UNIQUE INDEX customer_user_login (login),
    -- not in Znuny: lets "the most recently changed of several matches" be
    -- found without a sort over the whole table
    INDEX customer_user_change_time (change_time)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
