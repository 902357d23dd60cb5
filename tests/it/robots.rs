//! A loopback stand-in for the group robots and webhook receivers planet pushes to: it keeps
//! every request (path with query, headers, body) and answers each path as a test scripts
//! it: a queue of answers (a platform's error codes, 429s), then a default answer.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the robot received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// An answer: status, headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn ok(body: &str) -> Answer {
        Answer { status: 200, headers: vec![("Content-Type".into(), "application/json".into())], body: body.into() }
    }

    pub fn status(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Answer { status, headers, body: body.into() }
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    scripted: HashMap<String, VecDeque<Answer>>,
    defaults: HashMap<String, Answer>,
    /// Paths that answer a WebSub intent verification (`GET ?hub.challenge=`) by echoing it.
    echoing: Vec<String>,
    /// Paths whose requests, from the n-th on (counting from 0), are held unanswered (a robot
    /// that hangs).
    held: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct RobotServer {
    pub address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl RobotServer {
    pub async fn start() -> RobotServer {
        RobotServer::start_on("127.0.0.1").await
    }

    /// A robot on another loopback address (all of 127.0.0.0/8 is this machine).
    pub async fn start_on(ip: &str) -> RobotServer {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let server =
            RobotServer { address: listener.local_addr().unwrap(), shared: Arc::default(), arrived: Arc::default() };
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = accepting.clone();
                tokio::spawn(async move { server.answer(stream).await });
            }
        });
        server
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.address, path_and_query)
    }

    /// `path` answers `answer` whenever nothing is scripted.
    pub fn answer_always(&self, path: &str, answer: Answer) {
        self.shared.lock().unwrap().defaults.insert(path.into(), answer);
    }

    /// `path` answers these first, in order.
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        self.shared.lock().unwrap().scripted.entry(path.into()).or_default().extend(answers);
    }

    /// `path` is a WebSub subscriber's callback: it echoes every `hub.challenge`.
    pub fn echo_challenges(&self, path: &str) {
        self.shared.lock().unwrap().echoing.push(path.into());
    }

    /// Requests to `path` are read and never answered.
    pub fn hold(&self, path: &str) {
        self.hold_from(path, 0);
    }

    /// Requests to `path` from the `n`-th on (counting from 0) are read and never answered.
    pub fn hold_from(&self, path: &str, n: usize) {
        self.shared.lock().unwrap().held.insert(path.into(), n);
    }

    /// Requests to `path` from now on are answered again.
    pub fn release(&self, path: &str) {
        self.shared.lock().unwrap().held.remove(path);
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.shared.lock().unwrap().received.iter().filter(|r| r.path() == path).cloned().collect()
    }

    /// Resolves once `path` has received `count` requests.
    pub async fn wait_for(&self, path: &str, count: usize) {
        loop {
            let arrival = self.arrived.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            if self.received(path).len() >= count {
                return;
            }
            arrival.await;
        }
    }

    async fn answer(&self, mut stream: TcpStream) {
        let Some(request) = read_request(&mut stream).await else { return };
        let path = request.path().to_string();
        let challenge = request.query("hub.challenge");
        let (answer, held) = {
            let mut shared = self.shared.lock().unwrap();
            let echoed = challenge.filter(|_| shared.echoing.contains(&path)).map(|c| Answer::status(200, &[], &c));
            shared.received.push(request);
            let index = shared.received.iter().filter(|r| r.path() == path).count() - 1;
            let scripted = shared.scripted.get_mut(&path).and_then(VecDeque::pop_front);
            let answer = echoed.or(scripted).or_else(|| shared.defaults.get(&path).cloned());
            (answer, shared.held.get(&path).is_some_and(|from| index >= *from))
        };
        self.arrived.notify_waiters();
        if held {
            std::future::pending::<()>().await;
        }
        let answer = answer.unwrap_or_else(|| Answer::status(404, &[], "no robot here"));
        let mut head = format!(
            "HTTP/1.1 {} Robot\r\nContent-Length: {}\r\nConnection: close\r\n",
            answer.status,
            answer.body.len()
        );
        for (name, value) in &answer.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(answer.body.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        bytes.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut lines = head.lines();
    let target = lines.next()?.split_whitespace().nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = bytes[head_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&buffer[..read]);
    }
    Some(Received { target, headers, body })
}
