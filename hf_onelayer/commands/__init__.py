"""The ``hf-onelayer`` commands: each parses its flags with HfArgumentParser and calls the library."""

MODEL_HELP = "saved model folder or Hub id (default: the released encoder-decoder, release/seq2seq in the repository)"
