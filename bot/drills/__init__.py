"""Practice incidents (issue 21): scenario files with timed injects, run as incidents marked as drills,
scored against their targets from the timeline."""
