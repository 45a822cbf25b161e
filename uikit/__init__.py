"""The small UI kit shared by the feature rooms: helpers for Gradio pages and the public Gradio API."""
