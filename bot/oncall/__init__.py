"""On-call schedules: who answers the page, computed from layered rotations and overrides."""
