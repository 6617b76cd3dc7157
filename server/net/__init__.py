"""The wire: message types, codecs, sessions and the websockets adapter."""
