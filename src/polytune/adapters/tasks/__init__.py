"""Task adapters: one module per task type, a shared base, and the entry point (`train_task_adapter`).

This module only re-exports: base.py (TaskRun, class weights, the dev loss), classification.py,
token_classification.py, generation.py (seq2seq, causal LM), regression.py, train.py (the entry point).
"""

from polytune.adapters.tasks.base import TaskRun, dev_loss, model_and_tokenizer, read_class_weights
from polytune.adapters.tasks.classification import sequence_classification_run
from polytune.adapters.tasks.train import train_task_adapter

__all__ = [
    "TaskRun",
    "dev_loss",
    "model_and_tokenizer",
    "read_class_weights",
    "sequence_classification_run",
    "train_task_adapter",
]
