"""Training the suite does itself (weights defenses, the zoo, the neuron analysis's calibration):
`config` (examples, configuration, report), `data` (encoding, batches), `losses`, `lora`, `dp`
(DP-SGD) and `loop` (one seeded loop for every method)."""
