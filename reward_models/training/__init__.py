"""Training the judges: TRL and Ray Train plumbing, training rows around descriptions, judge cards."""
