"""What a user configures: the models file, the policy file, the run profiles, and the run's
validated settings."""
