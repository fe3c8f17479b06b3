"""Rendering (pure): templating, the email (HTML, text, MIME message), web pages, feeds."""
