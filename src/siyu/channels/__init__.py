"""Adapters to the outside world (SMS now; WeCom and WeChat Pay later), each with a sandbox."""
