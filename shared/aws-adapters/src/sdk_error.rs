//! Sorting a failed AWS SDK call by what its caller can do about it, from the error code
//! each service documents; each adapter turns the sort into its own error type. The
//! SDK's error stays the source, so the cause chain keeps every detail.

use std::fmt;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// A boxed error source.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a failed call amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The service was not reached (connection, timeout, dispatch).
    Unreachable,
    /// A condition of the request did not hold (DynamoDB's conditional writes).
    ConditionFailed,
    /// Throttled: worth retrying later.
    Throttled,
    /// The table or queue does not exist.
    Missing,
    /// The caller's credentials or the key policy refused it.
    Denied,
    /// Anything else.
    Failed,
}

/// A sorted failure.
pub(crate) struct Failure {
    pub(crate) kind: Kind,
    /// The service's error code (`Unknown` when it gave none; empty when unreachable).
    pub(crate) code: String,
    pub(crate) source: BoxError,
}

/// A service's error codes, by kind.
pub(crate) struct Codes {
    condition_failed: &'static [&'static str],
    throttled: &'static [&'static str],
    missing: &'static [&'static str],
    denied: &'static [&'static str],
}

/// DynamoDB's (API reference, "Common Errors" and each operation's errors).
pub(crate) const DYNAMODB: Codes = Codes {
    condition_failed: &["ConditionalCheckFailedException"],
    throttled: &[
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    ],
    missing: &["ResourceNotFoundException"],
    denied: &[
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
    ],
};

/// SQS's. It answers its query-era codes (`AWS.SimpleQueueService.NonExistentQueue`) in
/// the `x-amzn-query-error` header, which the SDK prefers to the JSON error's type.
pub(crate) const SQS: Codes = Codes {
    condition_failed: &[],
    throttled: &[
        "RequestThrottled",
        "ThrottlingException",
        "KMS.ThrottlingException",
        "OverLimit",
    ],
    missing: &[
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    ],
    denied: &[
        "AccessDenied",
        "AccessDeniedException",
        "InvalidSecurity",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "KMS.AccessDeniedException",
        "KMS.DisabledException",
        "KMS.InvalidKeyUsageException",
        "KMS.InvalidStateException",
        "KMS.NotFoundException",
        "KMS.OptInRequired",
    ],
};

/// Sorts `err` by `codes`.
pub(crate) fn sort<E, R>(err: SdkError<E, R>, codes: &Codes) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = match &err {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("Unknown").to_owned(),
        _ => {
            return Failure {
                kind: Kind::Unreachable,
                code: String::new(),
                source: Box::new(err),
            };
        }
    };
    let is = |list: &[&str]| list.contains(&code.as_str());
    let kind = if is(codes.condition_failed) {
        Kind::ConditionFailed
    } else if is(codes.throttled) {
        Kind::Throttled
    } else if is(codes.missing) {
        Kind::Missing
    } else if is(codes.denied) {
        Kind::Denied
    } else {
        Kind::Failed
    };
    Failure {
        kind,
        code,
        source: Box::new(err),
    }
}
