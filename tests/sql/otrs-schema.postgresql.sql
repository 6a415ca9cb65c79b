-- Znuny's customer_user on PostgreSQL, as in Znuny's
-- scripts/database/schema.postgresql.sql (the table app_otrsticket reads),
-- plus a table of another application with its own names for everything,
-- read through a column map. Loaded by scripts/postgres.sh into `otrs`.
DROP TABLE IF EXISTS customer_user;
DROP TABLE IF EXISTS crm_contacts;

CREATE TABLE customer_user (
    id serial NOT NULL,
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
    create_time timestamp(0) NOT NULL,
    create_by INTEGER NOT NULL,
    change_time timestamp(0) NOT NULL,
    change_by INTEGER NOT NULL,
    PRIMARY KEY(id),
    CONSTRAINT customer_user_login UNIQUE (login)
);

-- Not OTRS's: no id column, a boolean for "valid", a timestamp with zone.
CREATE TABLE crm_contacts (
    contact_key VARCHAR (100) NOT NULL PRIMARY KEY,
    company VARCHAR (100) NULL,
    given VARCHAR (100) NULL,
    family VARCHAR (100) NULL,
    mail_addr VARCHAR (150) NULL,
    work_phone VARCHAR (100) NULL,
    cell_phone VARCHAR (100) NULL,
    home_phone VARCHAR (100) NULL,
    active BOOLEAN NOT NULL DEFAULT true,
    modified timestamp with time zone NOT NULL DEFAULT now()
);
