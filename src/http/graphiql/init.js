// Starts GraphiQL against this server's /graphql. Kept out of the page so the page's
// Content-Security-Policy can forbid inline scripts. Subscriptions use graphql-transport-ws on
// the same path; the headers typed in GraphiQL's header editor (e.g. {"Authorization":
// "Bearer …"}) become the connection_init payload, which is how Warden authenticates them.
(function () {
  // The document a first visit opens on (GraphiQL keeps the visitor's own edits in
  // localStorage afterwards). Every operation in it must validate against the schema.
  var WARDEN_DOCUMENT = [
    '# Warden: a GraphQL identity server.',
    '#',
    '# 1. Run Login (cursor in it, Ctrl-Enter) with an',
    '#    account made by `warden user create`.',
    '# 2. Put its accessToken in the Headers tab below:',
    '#',
    '#      {"Authorization": "Bearer <accessToken>"}',
    '#',
    '#    Every request then carries it; for the',
    '#    subscription, the headers become the',
    '#    WebSocket\'s connection_init payload, which is',
    '#    how Warden authenticates it.',
    '# 3. Run Me, then SessionEvents, and log out from',
    '#    elsewhere to see SIGNED_OUT arrive.',
    '#',
    '# What a field needs ends its description in the',
    '# Docs explorer, e.g. "Requires: role admin; fresh',
    '# token" on createUser.',
    '# With JWT_TOKEN_LOCATION=cookies, accessToken is',
    '# null: try the example app at /example/ instead.',
    '',
    'mutation Login {',
    '  login(',
    '    email: "ana@example.com"',
    '    password: "correct horse battery"',
    '  ) {',
    '    accessToken',
    '    refreshToken',
    '    expiresIn',
    '    user { id name roles permissions }',
    '  }',
    '}',
    '',
    'query Me {',
    '  me { id email name roles permissions createdAt }',
    '}',
    '',
    'subscription SessionEvents {',
    '  sessionEvents {',
    '    kind at sessionId roles permissions expiresAt',
    '  }',
    '}',
    '',
  ].join('\n');

  var subscriptionUrl = location.origin.replace(/^http/, 'ws') + '/graphql';
  var fetcher = GraphiQL.createFetcher({ url: '/graphql', subscriptionUrl: subscriptionUrl });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: WARDEN_DOCUMENT,
      // Open the Headers tab: that is where the token goes.
      defaultEditorToolsVisibility: 'headers',
    }),
  );
})();
