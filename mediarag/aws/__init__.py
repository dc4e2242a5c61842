"""The AWS path: SageMaker endpoints, Amazon Transcribe and Translate, S3 and SageMaker Processing.

Install with ``pip install 'mediarag[aws]'`` (boto3). Nothing here imports boto3 until a client is
first made, so ``import mediarag`` stays light. The implementations of the pipeline's protocols
sit next to their siblings:

- `mediarag.transcribe.sagemaker.SageMakerWhisperTranscriber` and
  `mediarag.transcribe.aws_transcribe.AmazonTranscriber` (with
  `mediarag.transcribe.aws_transcribe.AmazonTranslator`);
- `mediarag.embed.sagemaker.SageMakerEmbedder`;
- `mediarag.generate.sagemaker.SageMakerGenerator`;
- `mediarag.store.s3.S3SyncedStore` for an index kept at an ``s3://`` location.

This package holds what they share: client creation and error mapping (`mediarag.aws.clients`),
real-time endpoint calls (`mediarag.aws.runtime`), S3 helpers (`mediarag.aws.s3`) and the
Processing launcher, container entry point and merge (`mediarag.aws.processing`).
"""
