"""The Hugging Face files: config, model and tokenizer.

Each is self-contained (it imports third-party libraries and its sibling files only), because
``save_pretrained`` copies these files into every saved folder as the model's remote code.
"""
