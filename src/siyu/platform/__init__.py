"""The shared kernel: tenancy scoping, access declarations, money, clock, personal-data protection,
audit log, jobs, pagination and base templates. It holds no business rule and imports no domain."""
