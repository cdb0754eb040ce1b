// Starts GraphiQL against this server's /graphql. Kept out of the page so the page's
// Content-Security-Policy can forbid inline scripts. Subscriptions use graphql-transport-ws on
// the same path; the headers typed in GraphiQL's header editor (e.g. {"Authorization":
// "Bearer …"}) become the connection_init payload, which is how Warden authenticates them.
(function () {
  var subscriptionUrl = location.origin.replace(/^http/, 'ws') + '/graphql';
  var fetcher = GraphiQL.createFetcher({ url: '/graphql', subscriptionUrl: subscriptionUrl });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }));
})();
