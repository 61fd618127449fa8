"""video_demo: a small multimodal pipeline (audio, videos, chunks, faces, transcripts) for metaxy-tui."""
