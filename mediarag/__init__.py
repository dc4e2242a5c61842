"""mediarag: answers about video and audio files, with timestamped citations."""
__version__ = "0.1.0"
