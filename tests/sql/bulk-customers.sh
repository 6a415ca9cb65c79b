#!/usr/bin/env bash
# Prints SQL that adds N valid customers (logins bulk000001 ...) for the
# lookup benchmark:  tests/sql/bulk-customers.sh 100000 | scripts/mariadb.sh sql
# Load it after customers.sql. Phone numbers are 9200000000 + i (mobile
# 9300000000 + i), so they are unique and never equal a sample customer's number
# (916, 903, 495 and +44 ones), written in the formats agents use:
# '+7 (920) 000-00-01', '8 920 000 0001', '9200000001'. Every fourth customer
# also has a mobile. awk, 1000 rows per INSERT: 100000 rows in well under 1 s.
set -euo pipefail
n=${1:-}
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -le 79999999 ] \
    || { echo "usage: $0 N   (N customers, 0..79999999)" >&2; exit 2; }

awk -v n="$n" 'BEGIN {
    print "SET NAMES utf8mb4;"
    print "START TRANSACTION;"
    print "INSERT IGNORE INTO customer_company (customer_id, name, valid_id, create_time, create_by, change_time, change_by)"
    print "    VALUES (\047BULK\047, \047Bulk customers\047, 1, NOW(), 1, NOW(), 1);"
    for (i = 1; i <= n; i++) {
        if ((i - 1) % 1000 == 0) {
            if (i > 1) print ";"
            print "INSERT INTO customer_user (login, email, customer_id, first_name, last_name, phone, mobile, valid_id, create_time, create_by, change_time, change_by) VALUES"
            sep = ""
        }
        # 10 digits built from two small parts: mawk (the default awk on Debian)
        # prints integers above 2^31 with %d as 2147483647.
        num = sprintf("%d%07d", 920 + int(i / 10000000), i % 10000000)   # 920xxxxxxx
        code = substr(num, 1, 3); a = substr(num, 4, 3); b = substr(num, 7, 2); c = substr(num, 9, 2)
        if (i % 3 == 0)      phone = sprintf("+7 (%s) %s-%s-%s", code, a, b, c)
        else if (i % 3 == 1) phone = sprintf("8 %s %s %s%s", code, a, b, c)
        else                 phone = num
        mobile = (i % 4 == 0) ? sprintf("\047+7%d%07d\047", 930 + int(i / 10000000), i % 10000000) : "NULL"
        login = sprintf("bulk%06d", i)
        printf "%s(\047%s\047, \047%s@example.invalid\047, \047BULK\047, \047Bulk\047, \047Customer %d\047, \047%s\047, %s, 1, NOW(), 1, NOW(), 1)\n", \
            sep, login, login, i, phone, mobile
        sep = ","
    }
    if (n > 0) print ";"
    print "COMMIT;"
}'
