-- Sample customers in PostgreSQL for the source tests. What each row is for:
--   pg.petrova   only in PostgreSQL
--   pg.both      the number of LDAP's ldap.both: the earlier source wins
--   pg.invalid   valid_id 2: must never match
--   pg.placeholder  no number (the unknown-caller login lives in MariaDB)
-- crm_contacts (renamed columns):
--   crm.kim      work phone; crm.gone inactive (active = false)
INSERT INTO customer_user
    (login, email, customer_id, first_name, last_name, phone, mobile,
     valid_id, create_time, create_by, change_time, change_by)
VALUES
    ('pg.petrova', 'pg.petrova@example.invalid', 'PGCO', 'Polina', 'Petrova',
     '8 916 800 10 01', NULL, 1, now(), 1, now(), 1),
    ('pg.both', 'pg.both@example.invalid', 'PGCO', 'Pavel', 'Both',
     NULL, '89167001002', 1, now(), 1, now(), 1),
    ('pg.invalid', 'pg.invalid@example.invalid', 'PGCO', 'Ivan', 'Invalid',
     '8 916 800 10 02', NULL, 2, now(), 1, now(), 1),
    ('pg.placeholder', 'pg.placeholder@example.invalid', 'PGCO', 'No', 'Number',
     NULL, NULL, 1, now(), 1, now(), 1);

INSERT INTO crm_contacts (contact_key, company, given, family, mail_addr, work_phone, cell_phone, home_phone, active)
VALUES
    ('crm.kim', 'CRMCO', 'Kim', 'Crm', 'kim@crm.invalid', '8 916 800 20 01', NULL, '+7 916 800-20-02', true),
    ('crm.gone', 'CRMCO', 'Gone', 'Crm', 'gone@crm.invalid', '8 916 800 20 03', NULL, NULL, false);
