"""Organisation: brand (the tenant) → region / branch company → franchisee → store → staff."""
