"""The course server: student API, LMS webhooks in and out, a durable store and grading workers."""
