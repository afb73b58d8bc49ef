"""The project's own dev tools: the synthesis bench, mutation testing, the engine comparison."""
