"""Conversations between buyers and sellers: threads, messages, attachments, custom-offer posts, live chat."""
