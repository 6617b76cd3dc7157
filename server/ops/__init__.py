"""Watching the server: metrics and logs. Other layers call in; it never calls back."""
