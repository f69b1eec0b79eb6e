-- People who sign in with an external OpenID Connect issuer (Cognito, …): the issuer's subject
-- names one Tessera user for good, whatever their e-mail or name becomes there.
CREATE TABLE external_identities (
    issuer     VARCHAR(255) NOT NULL,
    subject    VARCHAR(255) NOT NULL,
    user_id    UUID         NOT NULL REFERENCES users (user_id),
    created_at TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_user_idx ON external_identities (user_id);
