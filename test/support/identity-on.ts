// Imported first by suites whose products carry `max_per_customer`: buyer identity on, as a configured JWT issuer
// turns it on (the PUT schema accepts a limit only then). The handlers get `sub` straight from the event, as API
// Gateway's authorizer gives it; no token is checked here.
process.env.JWT_ISSUER = 'https://issuer.test';
process.env.JWT_AUDIENCE = 'checkout';
