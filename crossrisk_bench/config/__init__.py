"""What a user configures: every option (declared once for pytest and the command), the models
file, the policy file and the run profiles. The run's validated settings are `settings.py`."""
