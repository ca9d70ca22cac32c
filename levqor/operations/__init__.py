"""Operator checks and reports: the logic behind stripe_check, db_check, ops_report and the health views."""
