<?php
// Signs and sends Pusher HTTP API requests the way pusher-http-php does (its curl transport):
// auth_key, auth_timestamp, auth_version and body_md5 merged with the query parameters, ksort()ed,
// signed as "METHOD\nPATH\nk=v&k=v" with unescaped values, and sent
// through http_build_query() — which escapes ',' as %2C and ' ' as '+', so the server must sign
// what it decodes, not what it receives. The body is PHP's json_encode() (it escapes '/' as '\/').
//
//   php pusher_sign.php BASE_URL APP_ID KEY SECRET
// Prints one line per request: "<name> <status> <body>".

[$_, $base, $app_id, $key, $secret] = $argv;

function array_implode($glue, $separator, $array)
{
    $out = [];
    foreach ($array as $k => $v) {
        if (is_array($v)) {
            $v = implode(',', $v);
        }
        $out[] = $k . $glue . $v;
    }
    return implode($separator, $out);
}

function signed_request($base, $app_id, $key, $secret, $method, $sub, $params = [], $body = null)
{
    $path = '/apps/' . $app_id . $sub;
    if ($body !== null) {
        $params['body_md5'] = md5($body);
    }
    $q = ['auth_key' => $key, 'auth_timestamp' => time(), 'auth_version' => '1.0'];
    $q = array_merge($q, $params);
    ksort($q);
    $q['auth_signature'] = hash_hmac('sha256', "$method\n$path\n" . array_implode('=', '&', $q), $secret);
    $ch = curl_init($base . $path . '?' . http_build_query($q));
    curl_setopt($ch, CURLOPT_CUSTOMREQUEST, $method);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_TIMEOUT, 5);
    if ($body !== null) {
        curl_setopt($ch, CURLOPT_HTTPHEADER, ['Content-Type: application/json']);
        curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
    }
    $resp = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_HTTP_CODE);
    curl_close($ch);
    return [$status, $resp];
}

$data = json_encode(['url' => 'https://example.com/a b', 'n' => 1]);
$requests = [
    ['trigger', 'POST', '/events', [], json_encode([
        'name' => 'php-event', 'data' => $data, 'channels' => ['php-news'],
    ])],
    ['trigger-info', 'POST', '/events', ['info' => 'subscription_count'], json_encode([
        'name' => 'php-info', 'data' => 'x', 'channels' => ['php-news'], 'info' => 'subscription_count',
    ])],
    ['batch', 'POST', '/batch_events', [], json_encode(['batch' => [
        ['channel' => 'php-news', 'name' => 'php-batch', 'data' => '{"b":1}'],
    ]])],
    ['channels', 'GET', '/channels', ['filter_by_prefix' => 'php-', 'info' => 'user_count'], null],
    ['channel', 'GET', '/channels/php-news', ['info' => 'subscription_count,user_count'], null],
    ['channel-ok', 'GET', '/channels/php-news', ['info' => 'subscription_count'], null],
    ['list', 'GET', '/channels', ['filter_by_prefix' => 'php-'], null],
];
foreach ($requests as [$name, $method, $sub, $params, $body]) {
    [$status, $resp] = signed_request($base, $app_id, $key, $secret, $method, $sub, $params, $body);
    echo $name, ' ', $status, ' ', $resp, "\n";
}
