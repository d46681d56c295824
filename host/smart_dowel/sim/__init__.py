"""The simulated dowel: a body model of hip-hinge reps, a simulated board for the real
firmware, and a pty that any serial client opens like the real device."""
