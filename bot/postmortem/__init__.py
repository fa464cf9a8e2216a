"""Post-mortems compiled from the timeline, action items, and the incident metrics report."""
