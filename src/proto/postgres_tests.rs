//! Tests of the PostgreSQL machine, through the whole dialog driver.
