-- Sample customers for the tests and the demo. Phone numbers are written as
-- agents type them. Loaded after otrs-schema.sql by scripts/mariadb.sh.
-- What each row is for:
--   ivanov       plain national number 8 916 ...      (the demo caller)
--   petrov       +7 (916) ... with brackets and dashes
--   sidorova     spaced national number, plus a +7 mobile
--   orlova       empty phone, 10-digit mobile without prefix
--   smith        foreign number (+44), not the configured country
--   kuznetsov    valid_id 2 (invalid): must never match
--   office1/2    two customers with the same number in different formats;
--                office2 changed more recently
--   ivanova      Cyrillic names, number with the 00 international prefix
--   unknown      the placeholder customer for callers that match nobody
SET NAMES utf8mb4;

INSERT INTO customer_company
    (customer_id, name, valid_id, create_time, create_by, change_time, change_by)
VALUES
    ('ACME', 'Acme Ltd', 1, NOW(), 1, NOW(), 1),
    ('GLOBEX', 'Globex Corp', 1, NOW(), 1, NOW(), 1),
    ('UNKNOWN', 'Unknown callers', 1, NOW(), 1, NOW(), 1);

INSERT INTO customer_user
    (login, email, customer_id, first_name, last_name, phone, mobile,
     valid_id, create_time, create_by, change_time, change_by)
VALUES
    ('ivanov', 'ivanov@example.invalid', 'ACME', 'Ivan', 'Ivanov',
     '89161229624', NULL, 1, NOW(), 1, NOW(), 1),
    ('petrov', 'petrov@example.invalid', 'ACME', 'Petr', 'Petrov',
     '+7 (916) 555-12-34', NULL, 1, NOW(), 1, NOW(), 1),
    ('sidorova', 'sidorova@example.invalid', 'GLOBEX', 'Anna', 'Sidorova',
     '8 916 777 0011', '+79165550000', 1, NOW(), 1, NOW(), 1),
    ('orlova', 'orlova@example.invalid', 'GLOBEX', 'Olga', 'Orlova',
     '', '9031234567', 1, NOW(), 1, NOW(), 1),
    ('smith', 'smith@example.invalid', 'GLOBEX', 'John', 'Smith',
     '+44 20 7946 0958', NULL, 1, NOW(), 1, NOW(), 1),
    ('kuznetsov', 'kuznetsov@example.invalid', 'ACME', 'Kirill', 'Kuznetsov',
     '89161112233', NULL, 2, NOW(), 1, NOW(), 1),
    ('office1', 'office1@example.invalid', 'ACME', 'Front', 'Office',
     '+7 495 123-45-67', NULL, 1, '2024-01-01 10:00:00', 1, '2024-01-01 10:00:00', 1),
    ('office2', 'office2@example.invalid', 'ACME', 'Back', 'Office',
     '8 (495) 123 45 67', NULL, 1, '2025-06-01 10:00:00', 1, '2025-06-01 10:00:00', 1),
    ('ivanova', 'ivanova@example.invalid', 'ACME', 'Мария', 'Иванова',
     '00 7 916 888 99 00', NULL, 1, NOW(), 1, NOW(), 1),
    ('unknown', 'unknown@example.invalid', 'UNKNOWN', 'Unknown', 'Caller',
     NULL, NULL, 1, NOW(), 1, NOW(), 1);
